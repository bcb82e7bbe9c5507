-- Certificates (结业证书). Staff design one per course: a background and a seal (files in the public
-- store), a title, and where the lines and the seal sit (percent of the width or height). A
-- learner who finished the course (and passed its exam, if it has one) claims theirs under the name
-- they choose; its code opens the public verify page. Revoking keeps the row and says why.
CREATE TABLE certificate_designs (
    course_id BIGINT PRIMARY KEY REFERENCES courses (id),
    title TEXT NOT NULL,
    background TEXT NOT NULL DEFAULT '',
    seal TEXT NOT NULL DEFAULT '',
    name_top BIGINT NOT NULL CHECK (name_top BETWEEN 0 AND 100),
    course_top BIGINT NOT NULL CHECK (course_top BETWEEN 0 AND 100),
    date_top BIGINT NOT NULL CHECK (date_top BETWEEN 0 AND 100),
    seal_left BIGINT NOT NULL CHECK (seal_left BETWEEN 0 AND 100),
    seal_top BIGINT NOT NULL CHECK (seal_top BETWEEN 0 AND 100),
    updated_at BIGINT NOT NULL
);

CREATE TABLE certificates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id),
    course_id BIGINT NOT NULL REFERENCES courses (id),
    name TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoke_reason TEXT NOT NULL DEFAULT '',
    UNIQUE (user_id, course_id)
);
CREATE INDEX certificates_course ON certificates (course_id, id);
