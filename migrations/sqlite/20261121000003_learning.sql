-- Lesson content and media, learning progress, HLS keys.
ALTER TABLE lessons ADD COLUMN media_key TEXT;
ALTER TABLE lessons ADD COLUMN hls_dir TEXT;
ALTER TABLE lessons ADD COLUMN body TEXT;
ALTER TABLE lessons ADD COLUMN notes TEXT NOT NULL DEFAULT '';
ALTER TABLE lessons ADD COLUMN live_url TEXT;

-- One row per learner and lesson, written by one upsert per progress report.
CREATE TABLE lesson_progress (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lesson_id BIGINT NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
    course_id BIGINT NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    last_position_secs BIGINT NOT NULL,
    furthest_secs BIGINT NOT NULL,
    duration_secs BIGINT NOT NULL,
    completed_at BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, lesson_id)
);
CREATE INDEX lesson_progress_course ON lesson_progress (user_id, course_id, updated_at);

-- AES-128 keys of packaged HLS lessons: served only to entitled viewers, never as files.
CREATE TABLE hls_keys (
    lesson_id BIGINT PRIMARY KEY REFERENCES lessons (id) ON DELETE CASCADE,
    key_hex TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
