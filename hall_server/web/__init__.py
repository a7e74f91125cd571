"""HTTP routes: the phone app's pages and paper, and the staff console."""
