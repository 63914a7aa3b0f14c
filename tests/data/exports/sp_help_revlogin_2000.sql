/* sp_help_revlogin script 
** Generated Nov 24 2026  9:40AM on SQL2000 */
DECLARE @pwd sysname
 
-- Login: BUILTIN\Administrators
EXEC master..sp_grantlogin 'BUILTIN\Administrators'
 
-- Login: CONTOSO\old
EXEC master..sp_grantlogin 'CONTOSO\old'
EXEC master..sp_denylogin 'CONTOSO\old'
 
-- Login: legacy_app
SET @pwd = CONVERT (varbinary(256), 0x01008D22A249DF5EF3B79ED321563A1DCCDC9CFC5FF954DD2D0F)
EXEC master..sp_addlogin 'legacy_app', @pwd, @sid = 0x5B2C3D4E5F60718293A4B5C6D7E8F90A, @encryptopt = 'skip_encryption'
 
-- Login: rpt
SET @pwd = CONVERT (varbinary(256), 0x0100AAAABBBBCCCCDDDDEEEEFFFF0000111122223333444455556666)
EXEC master..sp_addlogin 'rpt', @pwd, @sid = 0x6C3D4E5F60718293A4B5C6D7E8F90A1B, @encryptopt = 'skip_encryption', @defdb = 'Sales'
