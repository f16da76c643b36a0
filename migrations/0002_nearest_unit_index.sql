-- Nearest-unit search without reading every unit: one GiST index per kind
-- over the positions of the AVAILABLE units, so dispatch asks PostgreSQL
-- for the few nearest (KNN, `point <-> point`) and ranks those exactly by
-- great-circle distance in the application. The kind is part of each
-- index's predicate (the queries name it literally), so a fleet of 100,000
-- units costs a dispatch the same as a fleet of 100.
CREATE INDEX units_available_ambulance_position ON units USING gist (point(lon, lat))
    WHERE status = 'available' AND kind = 'ambulance';
CREATE INDEX units_available_fire_engine_position ON units USING gist (point(lon, lat))
    WHERE status = 'available' AND kind = 'fire_engine';
CREATE INDEX units_available_police_position ON units USING gist (point(lon, lat))
    WHERE status = 'available' AND kind = 'police';
CREATE INDEX units_available_rescue_position ON units USING gist (point(lon, lat))
    WHERE status = 'available' AND kind = 'rescue';

-- Superseded by the indexes above.
DROP INDEX units_available_by_kind;
