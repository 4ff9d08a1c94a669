-- What /metrics's counters had counted of the rows an erasure or the spam folder's
-- purge deletes (mailbridge.store.deleted_counts): a counter must not go down, or
-- Prometheus reads a reset and increase() counts every row again (the dead-letter
-- alert fired after erasing a person with a dead letter).
CREATE TABLE deleted_counts (
    counter TEXT NOT NULL,   -- received (by disposition), deliveries (sent, failed), attempts
    label   TEXT NOT NULL,   -- '' for attempts
    count   BIGINT NOT NULL,
    PRIMARY KEY (counter, label)
);
