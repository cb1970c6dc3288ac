-- A postback that names no payout earns the offer's default payout (SPEC §3: an offer has a
-- default payout). The edge knows the offer when it counts the click, so the click carries
-- it and attribution copies it onto such conversions. Older rows read as 0.

ALTER TABLE clicks
    ADD COLUMN IF NOT EXISTS offer_payout_micros Int64 DEFAULT 0
    COMMENT 'Default payout of the click''s offer (first CTA offer for a lander), micro-units; used for conversions whose postback names no payout';
