"""A simulated Zoom class: its webhooks, their delivery, and the result they must give.

``scenario`` plans one meeting instance of a course (``build_class``) from a
``roster`` of students; ``payloads`` writes it as Zoom's webhook bodies and signs
them; ``ordering`` shuffles and repeats them as Zoom's delivery does; ``delivery``
sends them (paced, retried, from threads or processes) through a ``transport``;
``expected`` says what CONTRACT §5 must make of them; ``cli`` is ``flask
simulate``. Import each name from the module that owns it: this package
re-exports nothing.
"""
