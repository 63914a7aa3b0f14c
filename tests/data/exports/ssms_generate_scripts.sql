USE [master]
GO
/****** Object:  Login [CONTOSO\svc_sales]    Script Date: 11/24/2026 9:12:44 AM ******/
CREATE LOGIN [CONTOSO\svc_sales] FROM WINDOWS WITH DEFAULT_DATABASE=[Sales], DEFAULT_LANGUAGE=[us_english]
GO
/****** Object:  Login [CONTOSO\SQL-Readers]    Script Date: 11/24/2026 9:12:44 AM ******/
CREATE LOGIN [CONTOSO\SQL-Readers] FROM WINDOWS WITH DEFAULT_DATABASE=[master], DEFAULT_LANGUAGE=[us_english]
GO
/* For security reasons the login is created disabled and with a random password. */
/****** Object:  Login [app_sales]    Script Date: 11/24/2026 9:12:44 AM ******/
CREATE LOGIN [app_sales] WITH PASSWORD=N'q3Vb+1lQpZx7jH1k0aW9oM0NnZyJ1XvK2i7y2x0wRrE=', DEFAULT_DATABASE=[Sales], DEFAULT_LANGUAGE=[us_english], CHECK_EXPIRATION=OFF, CHECK_POLICY=ON
GO
ALTER LOGIN [app_sales] DISABLE
GO
/* For security reasons the login is created disabled and with a random password. */
/****** Object:  Login [Jürgen]]Ops]    Script Date: 11/24/2026 9:12:44 AM ******/
CREATE LOGIN [Jürgen]]Ops] WITH PASSWORD=N'Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==', DEFAULT_DATABASE=[master], DEFAULT_LANGUAGE=[Deutsch], CHECK_EXPIRATION=OFF, CHECK_POLICY=OFF
GO
ALTER LOGIN [Jürgen]]Ops] DISABLE
GO
ALTER SERVER ROLE [dbcreator] ADD MEMBER [CONTOSO\svc_sales]
GO
ALTER SERVER ROLE [sysadmin] ADD MEMBER [Jürgen]]Ops]
GO
USE [Sales]
GO
/****** Object:  User [app_sales]    Script Date: 11/24/2026 9:12:45 AM ******/
CREATE USER [app_sales] FOR LOGIN [app_sales] WITH DEFAULT_SCHEMA=[dbo]
GO
/****** Object:  User [CONTOSO\svc_sales]    Script Date: 11/24/2026 9:12:45 AM ******/
CREATE USER [CONTOSO\svc_sales] FOR LOGIN [CONTOSO\svc_sales] WITH DEFAULT_SCHEMA=[sales]
GO
/****** Object:  User [CONTOSO\SQL-Readers]    Script Date: 11/24/2026 9:12:45 AM ******/
CREATE USER [CONTOSO\SQL-Readers] FOR LOGIN [CONTOSO\SQL-Readers]
GO
/****** Object:  User [etl_nologin]    Script Date: 11/24/2026 9:12:45 AM ******/
CREATE USER [etl_nologin] WITHOUT LOGIN WITH DEFAULT_SCHEMA=[dbo]
GO
/****** Object:  User [Jürgen]]Ops]    Script Date: 11/24/2026 9:12:45 AM ******/
CREATE USER [Jürgen]]Ops] FOR LOGIN [Jürgen]]Ops] WITH DEFAULT_SCHEMA=[dbo]
GO
/****** Object:  User [signer_user]    Script Date: 11/24/2026 9:12:45 AM ******/
CREATE USER [signer_user] FOR CERTIFICATE [SalesSigning]
GO
/****** Object:  User [akey_user]    Script Date: 11/24/2026 9:12:45 AM ******/
CREATE USER [akey_user] FOR ASYMMETRIC KEY [SalesKey]
GO
/****** Object:  ApplicationRole [sales_app]    Script Date: 11/24/2026 9:12:45 AM ******/
/* To avoid disclosure of passwords, the password is generated in script. */
declare @idx as int
declare @randomPwd as nvarchar(64)
declare @rnd as float
select @idx = 0
select @randomPwd = N''
select @rnd = rand((@@CPU_BUSY % 100) + ((@@IDLE % 100) * 100) + 
       (DATEPART(ss, GETDATE()) * 10000) + ((cast(DATEPART(ms, GETDATE()) as int) % 100) * 1000000))
while @idx < 64
begin
   select @randomPwd = @randomPwd + char((cast((@rnd * 83) as int) + 43))
   select @idx = @idx + 1
select @rnd = rand()
end
declare @statement nvarchar(4000)
set @statement = N'CREATE APPLICATION ROLE [sales_app] WITH DEFAULT_SCHEMA = [sales], ' + N'PASSWORD = N' + QUOTENAME(@randomPwd,'''')
EXEC dbo.sp_executesql @statement
GO
/****** Object:  DatabaseRole [sales_readers]    Script Date: 11/24/2026 9:12:45 AM ******/
CREATE ROLE [sales_readers]
GO
/****** Object:  DatabaseRole [sales_writers]    Script Date: 11/24/2026 9:12:45 AM ******/
CREATE ROLE [sales_writers] AUTHORIZATION [dbo]
GO
/****** Object:  DatabaseRole [Rôle «spécial»]    Script Date: 11/24/2026 9:12:45 AM ******/
CREATE ROLE [Rôle «spécial»]
GO
ALTER ROLE [sales_readers] ADD MEMBER [CONTOSO\SQL-Readers]
GO
ALTER ROLE [sales_readers] ADD MEMBER [sales_writers]
GO
ALTER ROLE [sales_writers] ADD MEMBER [app_sales]
GO
ALTER ROLE [db_datareader] ADD MEMBER [etl_nologin]
GO
ALTER ROLE [db_owner] ADD MEMBER [Jürgen]]Ops]
GO
ALTER ROLE [Rôle «spécial»] ADD MEMBER [CONTOSO\svc_sales]
GO
/****** Object:  Schema [sales]    Script Date: 11/24/2026 9:12:45 AM ******/
CREATE SCHEMA [sales]
GO
/****** Object:  Schema [odd]]schema]    Script Date: 11/24/2026 9:12:45 AM ******/
CREATE SCHEMA [odd]]schema] AUTHORIZATION [sales_writers]
GO
GRANT SELECT ON SCHEMA::[sales] TO [sales_readers] AS [dbo]
GO
GRANT INSERT ON SCHEMA::[sales] TO [sales_writers] AS [dbo]
GO
DENY DELETE ON SCHEMA::[sales] TO [CONTOSO\SQL-Readers] AS [dbo]
GO
/****** Object:  Table [sales].[Orders]    Script Date: 11/24/2026 9:12:45 AM ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE TABLE [sales].[Orders](
	[OrderID] [int] IDENTITY(1,1) NOT NULL,
	[CustomerName] [nvarchar](100) NOT NULL,
	[CardNumber] [varchar](19) NULL,
	[Amount] [money] NULL,
 CONSTRAINT [PK_Orders] PRIMARY KEY CLUSTERED 
(
	[OrderID] ASC
)WITH (PAD_INDEX = OFF, STATISTICS_NORECOMPUTE = OFF, IGNORE_DUP_KEY = OFF, ALLOW_ROW_LOCKS = ON, ALLOW_PAGE_LOCKS = ON, OPTIMIZE_FOR_SEQUENTIAL_KEY = OFF) ON [PRIMARY]
) ON [PRIMARY]
GO
GRANT SELECT ON [sales].[Orders] TO [CONTOSO\svc_sales] WITH GRANT OPTION  AS [dbo]
GO
GRANT UPDATE ON [sales].[Orders] ([Amount]) TO [app_sales] AS [dbo]
GO
DENY SELECT ON [sales].[Orders] ([CardNumber]) TO [sales_readers] AS [dbo]
GO
/****** Object:  Table [odd]]schema].[Tbl]]1]    Script Date: 11/24/2026 9:12:45 AM ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE TABLE [odd]]schema].[Tbl]]1](
	[id] [int] NOT NULL,
	[naïve col] [nvarchar](50) NULL
) ON [PRIMARY]
GO
GRANT SELECT ON [odd]]schema].[Tbl]]1] ([naïve col]) TO [Rôle «spécial»] AS [sales_writers]
GO
/****** Object:  View [sales].[vOrders]    Script Date: 11/24/2026 9:12:45 AM ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE VIEW [sales].[vOrders]
AS
SELECT OrderID, CustomerName, Amount FROM sales.Orders
GO
GRANT SELECT ON [sales].[vOrders] TO [sales_app] AS [dbo]
GO
/****** Object:  StoredProcedure [sales].[usp_PlaceOrder]    Script Date: 11/24/2026 9:12:45 AM ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE PROCEDURE [sales].[usp_PlaceOrder]
	@CustomerName nvarchar(100),
	@Amount money
AS
BEGIN
	SET NOCOUNT ON;
	INSERT INTO sales.Orders (CustomerName, Amount) VALUES (@CustomerName, @Amount);
END
GO
GRANT EXECUTE ON [sales].[usp_PlaceOrder] TO [app_sales] AS [dbo]
GO
DENY EXECUTE ON [sales].[usp_PlaceOrder] TO [etl_nologin] AS [dbo]
GO
GRANT CONNECT TO [app_sales] AS [dbo]
GO
GRANT CONNECT TO [CONTOSO\svc_sales] AS [dbo]
GO
GRANT CONNECT TO [CONTOSO\SQL-Readers] AS [dbo]
GO
GRANT VIEW DEFINITION TO [sales_readers] AS [dbo]
GO
GRANT IMPERSONATE ON USER::[etl_nologin] TO [app_sales] AS [dbo]
GO
REVOKE VIEW DEFINITION TO [sales_readers] CASCADE AS [dbo]
GO
GRANT SHOWPLAN TO [signer_user] AS [dbo]
GO
