"""What the three parts of hall agree on, in one small package they all import.

    provisioning  (the city office: plans, papers, signed site bundles)
    hall_server   (the site laptop: the exam day)
    sync          (the county's upload and the centre)

None of the three imports another; each imports ``contracts`` for the facts they share:
the exam's vocabulary and default numbers (``exam``), … (see docs/ARCHITECTURE.md,
"Contracts"). A module here depends on nothing of the three.
"""
