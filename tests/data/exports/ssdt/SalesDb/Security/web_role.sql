CREATE ROLE [web_role]
    AUTHORIZATION [dbo];

