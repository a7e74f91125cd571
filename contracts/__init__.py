"""What the three parts of hall agree on, in one small package they all import.

    provisioning  (the city office: plans, papers, signed site bundles)
    hall_server   (the site laptop: the exam day)
    sync          (the county's upload and the centre)

None of the three imports another; each imports ``contracts`` for the facts they share:
the exam's vocabulary and default numbers (``exam``), the site bundle and plan file
(``site_bundle``, ``keys``, ``site_plan``), the result bundle, its upload and proof and the
same-day reports (``result_bundle``, ``upload``, ``upload_proof``, ``site_report``), the
audit-chain rule (``audit_chain``), password hashing (``passwords``), the shipped data
(``shipped``, ``offices``, ``data/``), the forms' font (``fonts``) and the login lockout
(``ratelimit``). See docs/ARCHITECTURE.md, "Contracts". A module here imports none of the
three.
"""
