-- A delivery that failed too many times is given up, not deleted: the customer's next event
-- goes on, and an admin can send the given-up ones again once the receiver is fixed.

ALTER TABLE webhook_deliveries ADD COLUMN gave_up_at timestamptz;
