-- Whether a request ever reached a consultation (scheduled or further). A closed request that
-- did is the start of a clinical record and is kept for admin.keep_consulted_days, one that
-- never did for admin.keep_closed_days. Requests already past that point, or closed after it
-- (their history shows the move; a confirmed booking or a completed treatment says it too),
-- are marked now.
ALTER TABLE consultation_requests
    ADD COLUMN reached_consultation INTEGER NOT NULL DEFAULT 0 CHECK (reached_consultation IN (0, 1));

UPDATE consultation_requests SET reached_consultation = 1
WHERE status IN ('consultation_scheduled', 'medical_evaluation', 'preparation', 'medication_sessions', 'integration')
   OR closed_reason = 'completed'
   OR EXISTS (SELECT 1 FROM bookings b WHERE b.request_id = consultation_requests.id AND b.status = 'confirmed')
   OR EXISTS (
        SELECT 1 FROM request_history h
        WHERE h.request_id = consultation_requests.id AND h.event = 'status'
          AND (h.detail LIKE '%→ Consultation scheduled%' OR h.detail LIKE '%→ Medical evaluation%'
               OR h.detail LIKE '%→ Preparation%' OR h.detail LIKE '%→ Medication sessions%'
               OR h.detail LIKE '%→ Integration%'
               OR h.detail LIKE 'Consultation scheduled →%' OR h.detail LIKE 'Medical evaluation →%'
               OR h.detail LIKE 'Preparation →%' OR h.detail LIKE 'Medication sessions →%'
               OR h.detail LIKE 'Integration →%'));
