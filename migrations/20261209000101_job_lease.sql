-- Leases of running jobs (issue 17): a worker that claims a job holds it until `lease_until`
-- and renews the lease while the handler runs; a `running` row whose lease has lapsed lost its
-- worker (killed, partitioned) and is taken back by the dispatcher at once, instead of after
-- JOB_STALE_SECONDS. NULL on rows claimed before leases existed (the stale check covers those).
ALTER TABLE job ADD COLUMN lease_until timestamptz;

-- The dispatcher's sweep reads only running rows, by lease end.
CREATE INDEX job_lease_idx ON job (lease_until) WHERE status = 'running';
