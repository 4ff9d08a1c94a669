-- What extraction cut from an emailed reply (the quoted notification, the
-- signature, ...): never published, shown to the moderator so that a wrong cut
-- can be noticed. Empty for web and imported comments.
ALTER TABLE comments ADD COLUMN elided TEXT NOT NULL DEFAULT '';
