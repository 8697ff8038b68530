"""Studies: the schema of a study file (`schema`), its expansion into runs (`expand`, `spec`),
sweeps (`sweeps`, `tpe`), where runs execute (`executors`, `distributed`), the one run path
(`run_path`) and the resumable loop over a study's runs (`runner`)."""
