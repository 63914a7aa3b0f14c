CREATE USER [app_web] FOR LOGIN [app_web];


GO
GRANT CONNECT TO [app_web];

