def site_report(*a, **k): raise NotImplementedError
