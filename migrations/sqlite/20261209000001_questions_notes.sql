-- Questions under lessons (问答): a buyer asks, buyers and staff answer, the asker or staff pick the
-- best answer. Both pass the keyword filter, so either can be held or hidden like a review.
CREATE TABLE lesson_questions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    lesson_id BIGINT NOT NULL REFERENCES lessons (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('shown', 'held', 'hidden')),
    best_answer_id BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX lesson_questions_lesson ON lesson_questions (lesson_id, id);
CREATE INDEX lesson_questions_user ON lesson_questions (user_id);

CREATE TABLE lesson_answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    question_id BIGINT NOT NULL REFERENCES lesson_questions (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    body TEXT NOT NULL,
    by_staff BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('shown', 'held', 'hidden')),
    created_at BIGINT NOT NULL
);
CREATE INDEX lesson_answers_question ON lesson_answers (question_id, id);
CREATE INDEX lesson_answers_user ON lesson_answers (user_id);

-- A learner's own notes on a lesson, each at a moment of its video or audio (seconds).
CREATE TABLE learner_notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    lesson_id BIGINT NOT NULL REFERENCES lessons (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    at_secs BIGINT NOT NULL CHECK (at_secs >= 0),
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX learner_notes_user ON learner_notes (user_id, lesson_id, at_secs);

-- Held questions and answers join the moderation queue: its kind check gains them (SQLite
-- rebuilds the table to change a check).
CREATE TABLE moderation_items_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('nickname', 'complaint', 'refund', 'review', 'checkin', 'homework', 'question', 'answer')),
    text TEXT NOT NULL,
    matched TEXT NOT NULL,
    link TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('held', 'approved', 'hidden')),
    created_at BIGINT NOT NULL,
    decided_by BIGINT REFERENCES users (id),
    decided_at BIGINT
);
INSERT INTO moderation_items_new SELECT id, user_id, kind, text, matched, link, status, created_at, decided_by, decided_at FROM moderation_items;
DROP TABLE moderation_items;
ALTER TABLE moderation_items_new RENAME TO moderation_items;
CREATE INDEX moderation_items_status ON moderation_items (status, id);
