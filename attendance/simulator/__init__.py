"""A simulated Zoom class: its webhooks, their delivery, and the result they must give.

``scenario`` builds one meeting instance of a course (``build_class``),
``payloads`` writes it as Zoom's webhook bodies and signs them, ``delivery``
sends them (in order, shuffled, repeated, in parallel), ``transport`` is the HTTP
client it sends through, ``expected`` says what CONTRACT §5 must make of them,
and ``cli`` is ``flask simulate``. Import each name from the module that owns it.
"""
