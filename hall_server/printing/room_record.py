def room_record(*a, **k): raise NotImplementedError
