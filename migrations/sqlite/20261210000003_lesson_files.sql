-- Files staff attach to a lesson for its buyers (课件: PDFs, audio, pictures), kept in the private
-- media store and sent only through the download handler that checks the learner may learn it; a
-- PDF is stamped with the buyer's masked phone on every page as it is sent.
CREATE TABLE lesson_files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    lesson_id BIGINT NOT NULL REFERENCES lessons (id),
    file_name TEXT NOT NULL,
    storage_key TEXT NOT NULL UNIQUE,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX lesson_files_lesson ON lesson_files (lesson_id, id);
