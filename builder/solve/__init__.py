"""The solver: runs a build plan step by step (RUN, COPY/ADD, config steps) into images."""
