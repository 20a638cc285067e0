"""A transparency-log witness (c2sp.org/tlog-witness), run apart from the log it watches:
``auditlog witness serve`` locally or on a machine of its own, ``functions/witness`` on GCP in
another project (``terraform/witness``)."""
