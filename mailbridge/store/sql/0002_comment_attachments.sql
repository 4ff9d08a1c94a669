-- Files and images that came with an emailed reply. They are never published;
-- the moderator is told about them. A JSON list of {filename, content_type, size}.
ALTER TABLE comments ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]';
