/*
 * daemon.h - struct daemon: the loop and the modules it owns.
 */
#pragma once
