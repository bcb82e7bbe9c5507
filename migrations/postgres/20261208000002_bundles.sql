-- Bundles (组合课): a course of kind 'bundle' sells the courses listed here, in this order, at its
-- one price. Buying it grants each of them under its order (source 'bundle').
CREATE TABLE bundle_items (
    bundle_id BIGINT NOT NULL REFERENCES courses (id),
    course_id BIGINT NOT NULL REFERENCES courses (id),
    position BIGINT NOT NULL,
    PRIMARY KEY (bundle_id, course_id)
);
CREATE INDEX bundle_items_course ON bundle_items (course_id);
