"""mounts"""
