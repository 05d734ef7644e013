-- Projects and VMs recorded before resource groups and host names existed: the names their
-- folds derive from their ids (domain::platform::legacy_resource_group, legacy_hostname),
-- held like every name taken since, so no new project or VM can take one of them.
INSERT INTO claims (scope, key, aggregate_id, position)
SELECT 'project.resource_group', 'p-' || substr(replace(aggregate_id, '-', ''), 1, 12), aggregate_id, position
  FROM events
 WHERE aggregate_type = 'project' AND event_type = 'ProjectCreated'
   AND payload->'ProjectCreated'->'resource_group' IS NULL
ON CONFLICT DO NOTHING;
INSERT INTO claims (scope, key, aggregate_id, position)
SELECT 'vm.hostname', 'vm-' || substr(replace(aggregate_id, '-', ''), 1, 12), aggregate_id, position
  FROM events
 WHERE aggregate_type = 'vm' AND event_type = 'VmProvisioned'
   AND payload->'VmProvisioned'->'node' IS NULL
ON CONFLICT DO NOTHING;
