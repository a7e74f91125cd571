"""hall: the offline exam-hall appliance."""
__version__ = "0.1.0"
