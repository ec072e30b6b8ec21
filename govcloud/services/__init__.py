"""The shared services (nginx web hosting, ClamAV, restic backup) through Ansible: the
inventory (``inventory``), playbook runs (``runner``, ``playbooks``), scan reports
(``scans``) and backup drills (``backup``)."""
