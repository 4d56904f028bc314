"""remot's training side: answer scoring (shared by rewards and evaluation), and, as the training
issues land, the reward functions, the data adapter, the trainers and the teacher.

This package never imports Dagster; the training assets in ``remot_pipeline/defs`` call into it.
"""
