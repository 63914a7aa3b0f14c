ALTER ROLE [web_role] ADD MEMBER [app_web];


GO
ALTER ROLE [db_datareader] ADD MEMBER [web_role];

