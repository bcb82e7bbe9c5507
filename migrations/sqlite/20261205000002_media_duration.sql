-- How long a lesson's media really plays, measured by the shop (ffprobe at upload, the HLS
-- playlist at packaging); NULL until measured. Progress reports are checked against it rather
-- than against the duration the browser reports.
ALTER TABLE lessons ADD COLUMN media_duration_secs BIGINT;
