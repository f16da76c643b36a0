-- Drive time on the city's roads: an offer made on a road network keeps
-- the drive time and road distance the dispatch ranked it by (0 without
-- roads).
ALTER TABLE assignments
  ADD COLUMN eta_s double precision NOT NULL DEFAULT 0,
  ADD COLUMN road_distance_m double precision NOT NULL DEFAULT 0,
  -- For an automatic choice on roads: the drive time of the unit the
  -- straight-line rule would have sent (what roads saved).
  ADD COLUMN straight_line_eta_s double precision NOT NULL DEFAULT 0;
