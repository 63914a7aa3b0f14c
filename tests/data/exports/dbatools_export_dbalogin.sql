/*
	Created by CONTOSO\dba using dbatools Export-DbaLogin for objects on SQL01 at 2026-11-24 09:30:12.123
	See https://dbatools.io/Export-DbaLogin for more information
*/
USE master

GO
IF NOT EXISTS (SELECT loginname FROM master.dbo.syslogins WHERE name = 'app_hr') CREATE LOGIN [app_hr] WITH PASSWORD = 0x0200A1B2C3D4E5F60718293A4B5C6D7E8F9012345678ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF HASHED, SID = 0x9C1B2A3D4E5F60718293A4B5C6D7E8F9, DEFAULT_DATABASE = [HR], CHECK_POLICY = OFF, CHECK_EXPIRATION = OFF, DEFAULT_LANGUAGE = [us_english]
GO
ALTER LOGIN [app_hr] DISABLE
GO
ALTER SERVER ROLE [bulkadmin] ADD MEMBER [app_hr]
GO
EXEC sys.sp_addsrvrolemember @rolename=N'processadmin', @loginame=N'app_hr'
GO

USE msdb

GO
EXEC msdb.dbo.sp_update_job @job_name=N'HR nightly', @owner_login_name=N'app_hr'
GO

USE master

GO
Grant CONNECT SQL TO [app_hr]  AS [sa]
GO
Grant VIEW SERVER STATE TO [app_hr]  AS [sa]
GO
GRANT VIEW ANY DEFINITION TO [app_hr] WITH GRANT OPTION AS [sa]
GO
Deny ALTER ANY LOGIN TO [app_hr]  AS [sa]
GO
PRINT 'app_hr is associated with the hr_cred credential'
GO

USE [HR]

GO
IF NOT EXISTS (SELECT * FROM sys.database_principals WHERE name = N'hr_readers' AND type = 'R')
CREATE ROLE [hr_readers]
GO
ALTER ROLE [hr_readers] ADD MEMBER [app_hr]
GO
IF NOT EXISTS (SELECT * FROM sys.database_principals WHERE name = N'app_hr')
CREATE USER [app_hr] FOR LOGIN [app_hr] WITH DEFAULT_SCHEMA=[hr]
GO
EXEC sp_addrolemember N'db_datawriter', N'app_hr'
GO
GRANT CONNECT TO [app_hr] AS [dbo];
GO
GRANT VIEW DEFINITION TO [app_hr] WITH GRANT OPTION AS [dbo];
GO
DENY SELECT ON OBJECT::[hr].[Salaries]([Amount]) TO [app_hr] AS [dbo];
GO
GRANT SELECT ON OBJECT::[hr].[Employees] TO [app_hr] AS [dbo];
GO
GRANT EXECUTE ON SCHEMA::[hr] TO [app_hr] AS [dbo];
GO
GRANT VIEW DEFINITION ON ROLE::[hr_readers] TO [app_hr] AS [dbo];
GO
GRANT CONTROL ON CERTIFICATE::[HrCert] TO [app_hr] AS [dbo];
GO
GRANT REFERENCES ON Message Type::[HrMsg] TO [app_hr] AS [dbo];
GO
GO

USE [msdb]

GO
IF NOT EXISTS (SELECT * FROM sys.database_principals WHERE name = N'app_hr')
CREATE USER [app_hr] FOR LOGIN [app_hr]
GO
EXEC sys.sp_addrolemember @rolename=N'SQLAgentUserRole', @membername=N'app_hr'
GO
Grant CONNECT TO [app_hr]  AS [dbo]
GO
