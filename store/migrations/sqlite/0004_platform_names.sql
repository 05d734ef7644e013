-- Projects and VMs recorded before resource groups and host names existed (see the
-- PostgreSQL migration 0005): the names their folds derive from their ids, held.
INSERT OR IGNORE INTO claims (scope, key, aggregate_id, position)
SELECT 'project.resource_group', 'p-' || substr(replace(aggregate_id, '-', ''), 1, 12), aggregate_id, position
  FROM events
 WHERE aggregate_type = 'project' AND event_type = 'ProjectCreated'
   AND json_extract(payload, '$.ProjectCreated.resource_group') IS NULL;
INSERT OR IGNORE INTO claims (scope, key, aggregate_id, position)
SELECT 'vm.hostname', 'vm-' || substr(replace(aggregate_id, '-', ''), 1, 12), aggregate_id, position
  FROM events
 WHERE aggregate_type = 'vm' AND event_type = 'VmProvisioned'
   AND json_extract(payload, '$.VmProvisioned.node') IS NULL;
