:setvar DatabaseName "Sales"
GO
:on error exit
GO
:setvar __IsSqlCmdEnabled "True"
GO
IF N'$(__IsSqlCmdEnabled)' NOT LIKE N'True'
    BEGIN
        PRINT N'SQLCMD mode must be enabled to successfully execute this script.';
        SET NOEXEC ON;
    END


GO
USE [$(DatabaseName)];


GO
PRINT N'Creating Role [readers]...';


GO
CREATE ROLE [readers]
    AUTHORIZATION [dbo];


GO
CREATE TABLE [dbo].[Orders] (
    [Id]   INT           NOT NULL,
    [Note] NVARCHAR (50) NULL
);


GO
GRANT SELECT
    ON OBJECT::[dbo].[Orders] ([Note]) TO [readers]
    AS [dbo];


GO
PRINT N'The following operation was generated from a refactoring log file 1b2c3d4e-0000-0000-0000-000000000001';

PRINT N'Rename [dbo].[Orders].[Note] to Comment';


GO
EXECUTE sp_rename @objname = N'[dbo].[Orders].[Note]', @newname = N'Comment', @objtype = N'COLUMN';


GO
PRINT N'Starting rebuilding table [dbo].[Orders]...';


GO
BEGIN TRANSACTION;

SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;

SET XACT_ABORT ON;

CREATE TABLE [dbo].[tmp_ms_xx_Orders] (
    [Id]      INT           NOT NULL,
    [Total]   MONEY         NULL,
    [Comment] NVARCHAR (50) NULL,
    PRIMARY KEY CLUSTERED ([Id] ASC)
);

IF EXISTS (SELECT TOP 1 1 
           FROM   [dbo].[Orders])
    BEGIN
        INSERT INTO [dbo].[tmp_ms_xx_Orders] ([Id], [Comment])
        SELECT   [Id],
                 [Comment]
        FROM     [dbo].[Orders]
        ORDER BY [Id] ASC;
    END

DROP TABLE [dbo].[Orders];

EXECUTE sp_rename N'[dbo].[tmp_ms_xx_Orders]', N'Orders';

COMMIT TRANSACTION;

SET TRANSACTION ISOLATION LEVEL READ COMMITTED;


GO
PRINT N'Creating Permission Permission...';


GO
GRANT SELECT
    ON OBJECT::[dbo].[Orders] ([Comment]) TO [readers]
    AS [dbo];


GO
GRANT UPDATE
    ON OBJECT::[dbo].[Orders] ([Total]) TO [readers]
    AS [dbo];


GO
-- Refactoring step to update target server with deployed transaction logs

IF OBJECT_ID(N'dbo.__RefactorLog') IS NULL
BEGIN
    CREATE TABLE [dbo].[__RefactorLog] (OperationKey UNIQUEIDENTIFIER NOT NULL PRIMARY KEY)
    EXEC sp_addextendedproperty N'microsoft_database_tools_support', N'refactoring log', N'schema', N'dbo', N'table', N'__RefactorLog'
END
GO
IF NOT EXISTS (SELECT OperationKey FROM [dbo].[__RefactorLog] WHERE OperationKey = '1b2c3d4e-0000-0000-0000-000000000001')
INSERT INTO [dbo].[__RefactorLog] (OperationKey) values ('1b2c3d4e-0000-0000-0000-000000000001')

GO

GO
PRINT N'Update complete.';


GO
