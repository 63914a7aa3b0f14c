CREATE TABLE [web].[Orders] (
    [Id]    INT   NOT NULL,
    [Total] MONEY NULL,
    CONSTRAINT [PK_Orders] PRIMARY KEY CLUSTERED ([Id] ASC)
);

