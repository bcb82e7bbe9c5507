-- Quizzes and exams (测验 / 考试). A course keeps a bank of questions, each optionally under a
-- lesson; a lesson's quiz draws from that lesson's questions and the course's final exam (a quiz
-- without a lesson) from the whole bank. Keys stay on the server: choices are one per line, the key
-- names them by index.
CREATE TABLE quiz_questions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    course_id BIGINT NOT NULL REFERENCES courses (id),
    lesson_id BIGINT REFERENCES lessons (id),
    kind TEXT NOT NULL CHECK (kind IN ('single', 'multiple', 'truefalse', 'blank', 'short')),
    body TEXT NOT NULL,
    choices TEXT NOT NULL DEFAULT '',
    answer_key TEXT NOT NULL DEFAULT '',
    explanation TEXT NOT NULL DEFAULT '',
    points BIGINT NOT NULL DEFAULT 1 CHECK (points BETWEEN 1 AND 100),
    retired BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX quiz_questions_course ON quiz_questions (course_id, lesson_id);

CREATE TABLE quizzes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    course_id BIGINT NOT NULL REFERENCES courses (id),
    lesson_id BIGINT REFERENCES lessons (id),
    title TEXT NOT NULL,
    draw_count BIGINT NOT NULL DEFAULT 0 CHECK (draw_count >= 0),
    time_limit_mins BIGINT CHECK (time_limit_mins > 0),
    pass_percent BIGINT NOT NULL DEFAULT 60 CHECK (pass_percent BETWEEN 0 AND 100),
    max_attempts BIGINT CHECK (max_attempts > 0),
    created_at BIGINT NOT NULL
);
-- One quiz per lesson and one exam per course.
CREATE UNIQUE INDEX quizzes_place ON quizzes (course_id, COALESCE(lesson_id, 0));

-- An attempt holds the questions it drew (one row each, in the order shown) and what the learner
-- saved for each; `awarded` is filled when it is graded (short answers by staff).
CREATE TABLE quiz_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    quiz_id BIGINT NOT NULL REFERENCES quizzes (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    status TEXT NOT NULL CHECK (status IN ('open', 'pending', 'graded')),
    started_at BIGINT NOT NULL,
    deadline BIGINT,
    submitted_at BIGINT,
    score BIGINT,
    max_score BIGINT NOT NULL DEFAULT 0,
    passed BIGINT
);
CREATE INDEX quiz_attempts_user ON quiz_attempts (user_id, quiz_id);
CREATE INDEX quiz_attempts_quiz ON quiz_attempts (quiz_id, status);

CREATE TABLE attempt_answers (
    attempt_id BIGINT NOT NULL REFERENCES quiz_attempts (id),
    question_id BIGINT NOT NULL REFERENCES quiz_questions (id),
    position BIGINT NOT NULL,
    points BIGINT NOT NULL,
    response TEXT NOT NULL DEFAULT '',
    awarded BIGINT,
    PRIMARY KEY (attempt_id, question_id)
);
CREATE INDEX attempt_answers_question ON attempt_answers (question_id);
