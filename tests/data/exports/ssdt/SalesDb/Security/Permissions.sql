GRANT EXECUTE
    ON SCHEMA::[web] TO [web_role]
    AS [dbo];


GO
GRANT SELECT
    ON OBJECT::[web].[Orders] TO [web_role]
    AS [dbo];


GO
DENY UPDATE
    ON OBJECT::[web].[Orders] ([Total]) TO [web_role]
    AS [dbo];


GO
GRANT VIEW DEFINITION
    ON DATABASE::[$(DatabaseName)] TO [web_role];

