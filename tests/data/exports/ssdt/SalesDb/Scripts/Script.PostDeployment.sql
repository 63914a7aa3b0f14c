/*
Post-Deployment Script Template							
--------------------------------------------------------------------------------------
 This file contains SQL statements that will be appended to the build script.		
 Use SQLCMD syntax to include a file in the post-deployment script.			
 Example:      :r .\myfile.sql								
 Use SQLCMD syntax to reference a variable in the post-deployment script.		
 Example:      :setvar TableName MyTable							
               SELECT * FROM [$(TableName)]					
--------------------------------------------------------------------------------------
*/
IF NOT EXISTS (SELECT * FROM sys.database_principals WHERE name = N'$(AppLogin)')
BEGIN
    CREATE USER [$(AppLogin)] FOR LOGIN [$(AppLogin)];
END
GO
IF '$(Environment)' = 'PROD'
BEGIN
    ALTER ROLE [web_role] ADD MEMBER [$(AppLogin)];
END
ELSE
BEGIN
    ALTER ROLE [db_owner] ADD MEMBER [$(AppLogin)];
END
GO
REVOKE VIEW DEFINITION ON DATABASE::[$(DatabaseName)] FROM [web_role] CASCADE;
GO
