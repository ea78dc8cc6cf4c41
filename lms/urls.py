from django.urls import path

from . import launch_views, student_views, views

app_name = "lms"

urlpatterns = [
    path("lms/sections/", views.sections_page, name="sections"),
    path("lms/sections/<int:section_id>/", views.section_page, name="section"),
    path("lms/sections/<int:section_id>/assignments/new/", views.new_assignment, name="new-assignment"),
    path("lms/assignments/<int:assignment_id>/", views.assignment_page, name="assignment"),
    path("lms/assignments/<int:assignment_id>/grades/", views.save_grades, name="save-grades"),
    path("lms/assignments/<int:assignment_id>/grades/import/", views.import_grades, name="import-grades"),
    path("lms/assignments/<int:assignment_id>/grades.csv", views.grades_csv, name="grades-csv"),
    path("lms/assignments/<int:assignment_id>/sync/", views.sync_to_lms, name="sync"),
    path("lms/assignments/<int:assignment_id>/check/", views.check_lms, name="check"),
    path(
        "lms/assignments/<int:assignment_id>/students/<str:student_clever_id>/use-ours/",
        views.use_product_grade,
        name="use-product-grade",
    ),
    path("lms/classes/<int:section_id>/", student_views.student_class, name="student-class"),
    path(
        "lms/classes/<int:section_id>/assignments/<int:assignment_id>/",
        student_views.student_assignment,
        name="student-assignment",
    ),
    path("lms/launch/courses/<int:course_id>/setup/", launch_views.course_setup, name="course-setup"),
    path(
        "lms/launch/courses/<int:course_id>/not-set-up/",
        launch_views.course_not_set_up,
        name="course-not-set-up",
    ),
]
