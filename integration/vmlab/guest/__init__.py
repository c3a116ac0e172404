"""Code that runs inside the lab guest (/init, the runner, the scenario API)."""
