"""grantbridge."""
