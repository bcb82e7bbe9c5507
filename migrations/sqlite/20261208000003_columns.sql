-- Columns (专栏): a course of kind 'column' whose lessons keep coming. Staff say how many issues
-- are planned (or leave it open) and when new ones come out; its page shows how many have.
CREATE TABLE course_columns (
    course_id BIGINT PRIMARY KEY REFERENCES courses (id),
    planned BIGINT CHECK (planned > 0),
    schedule TEXT NOT NULL
);
