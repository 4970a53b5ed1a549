-- Seed data: 5 users × 10 lists × 60 todos = 3,000 todos (idempotent: only when empty).
INSERT INTO lists (owner_id, name)
SELECT 'user-' || u, 'List ' || l || ' of user-' || u
  FROM generate_series(1, 5) u, generate_series(1, 10) l
 WHERE NOT EXISTS (SELECT 1 FROM lists);
INSERT INTO todos (list_id, owner_id, description, completed, priority, completed_at)
SELECT l.id, l.owner_id, 'Todo ' || t || ' in ' || l.name, t % 3 = 0, t % 4,
       CASE WHEN t % 3 = 0 THEN now() - (t || ' minutes')::interval END
  FROM lists l, generate_series(1, 60) t
 WHERE NOT EXISTS (SELECT 1 FROM todos);
