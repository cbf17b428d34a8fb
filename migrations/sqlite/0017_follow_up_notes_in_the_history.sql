-- A note written with an event of a request's history: what the clinician did to follow up an
-- answer that needed attention. Personal and clinical, so sealed and bound to the history row's
-- id (see src/store/fields.rs); empty for every other event.
ALTER TABLE request_history ADD COLUMN note_sealed BLOB;
