"""placeholder"""
def kriging_rss(*a, **k): raise NotImplementedError
def estimate_s_rss(*a, **k): raise NotImplementedError
