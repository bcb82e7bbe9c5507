-- The demo's drawn SVG covers became photographic JPEGs (1280 wide, with a 640 card size beside
-- them); demo courses seeded before still point at the old files.
UPDATE courses SET cover_url = '/static/covers/' || slug || '-1280.jpg'
WHERE cover_url = '/static/covers/' || slug || '.svg';
