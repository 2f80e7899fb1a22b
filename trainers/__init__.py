"""Training plugins for calbench, registered under the ``calbench.trainers`` entry-point group."""
