-- Where the person will be during the booked session (a state's two-letter code, or
-- `outside-us`), as the booking form asks: a state outside the licensed ones is flagged to the
-- clinician, never refused. Plain, as the request's own `location` is. Empty for bookings made
-- before the form asked.
ALTER TABLE bookings ADD COLUMN session_location TEXT;
