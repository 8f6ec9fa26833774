"""Use cases: each public function is one transaction and the only place that commits."""
